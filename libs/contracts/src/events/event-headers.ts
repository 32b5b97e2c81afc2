/**
 * Headers every event carries besides `Nats-Msg-Id`, so tools can route and trace without parsing.
 * Request/reply messages carry the correlation id in the same header.
 */
export const EventHeader = {
  Type: 'Fw-Event-Type',
  Version: 'Fw-Event-Version',
  CorrelationId: 'Fw-Correlation-Id',
  CausationId: 'Fw-Causation-Id',
} as const;

/** Where the gateway's TRACE_UI_URL puts the trace id (the same placeholder the gateway's config uses). */
const TRACE_ID = '{trace_id}';

/**
 * The link to a job's trace in the operators' trace UI: the gateway's link template with the trace
 * id in it; null when the job has no trace (tracing was off) or no trace UI is configured.
 */
export function traceLink(template: string | null, traceId: string | null): string | null {
  if (!template || !traceId) return null;
  return template.replaceAll(TRACE_ID, encodeURIComponent(traceId));
}

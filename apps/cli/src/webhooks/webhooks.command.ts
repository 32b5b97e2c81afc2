import { Command, InvalidArgumentError, Option } from 'commander';
import {
  DEFAULT_WEBHOOK_EVENTS,
  DELIVERIES_LIMIT_DEFAULT,
  DELIVERIES_LIMIT_MAX,
  DELIVERY_STATUSES,
  parseReplayStart,
  tenantIdSchema,
  WEBHOOK_EVENT_TYPES,
  webhookDeliveryViewSchema,
  webhookEndpointViewSchema,
  type UpdateWebhookBody,
  type WebhookDeliveriesPage,
  type WebhookDeliveryView,
  type WebhookEndpointView,
  type WebhookEventType,
  type WebhookReplayOutcome,
  type WebhookWithSecret,
} from '@app/contracts';
import { call } from '@framewire/client';
import { clientFor, runAction, table, withGatewayOptions, type GatewayOptions } from '../gateway/gateway-client.js';

// Arguments are checked here, before anything is sent: a bad one is a usage error (exit 2), not an API error.

export function webhookIdArgument(value: string): string {
  if (!webhookEndpointViewSchema.shape.id.safeParse(value).success) throw new InvalidArgumentError('a webhook id is a UUID');
  return value.toLowerCase();
}

export function deliveryIdArgument(value: string): string {
  if (!webhookDeliveryViewSchema.shape.id.safeParse(value).success) throw new InvalidArgumentError('a delivery id is a UUID');
  return value.toLowerCase();
}

/** `job.completed,job.failed`: a comma-separated list of WEBHOOK_EVENT_TYPES, each once. */
export function eventsArgument(value: string): WebhookEventType[] {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new InvalidArgumentError(`${unknown.length > 0 ? `unknown event ${unknown.map((n) => `"${n}"`).join(', ')}; ` : ''}give a comma-separated list of ${WEBHOOK_EVENT_TYPES.join(', ')}`);
  }
  return [...new Set(names as WebhookEventType[])];
}

export function tenantArgument(value: string): string {
  const parsed = tenantIdSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`a tenant ${parsed.error.issues[0]?.message ?? 'is invalid'}`);
  return parsed.data;
}

export function deliveriesLimitArgument(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > DELIVERIES_LIMIT_MAX) throw new InvalidArgumentError(`expected an integer from 1 to ${DELIVERIES_LIMIT_MAX}`);
  return n;
}

export function deliveryStatusArgument(value: string): WebhookDeliveryView['status'] {
  const status = DELIVERY_STATUSES.find((s) => s === value);
  if (!status) throw new InvalidArgumentError(`expected one of ${DELIVERY_STATUSES.join(', ')}`);
  return status;
}

/** `1234`, `seq:1234` or an ISO time with a zone, judged as the jobs service will judge it. */
export function replayFromArgument(value: string): string {
  const parsed = parseReplayStart(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.reason);
  return value.trim();
}

export interface UpdateOptions {
  webhookUrl?: string;
  events?: WebhookEventType[];
  description?: string;
  enable?: boolean;
  disable?: boolean;
}

/** The PATCH body the options ask for, or null when they ask for nothing (the API refuses an empty one). */
export function updateBody(options: UpdateOptions): UpdateWebhookBody | null {
  const body: UpdateWebhookBody = {};
  if (options.webhookUrl !== undefined) body.url = options.webhookUrl;
  if (options.events !== undefined) body.events = options.events;
  if (options.description !== undefined) body.description = options.description;
  if (options.enable) body.enabled = true;
  if (options.disable) body.enabled = false;
  return Object.keys(body).length > 0 ? body : null;
}

const orDash = (value: string | number | null | undefined): string => (value === null || value === undefined || value === '' ? '-' : String(value));
const clip = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function endpointState(endpoint: Pick<WebhookEndpointView, 'enabled' | 'disabled_reason'>): string {
  if (endpoint.enabled) return 'enabled';
  return endpoint.disabled_reason ? `disabled (${endpoint.disabled_reason})` : 'disabled';
}

export function endpointsTable(endpoints: WebhookEndpointView[]): string {
  const rows = endpoints.map((e) => [e.id, e.tenant, endpointState(e), e.events.join(','), orDash(e.failing_since), e.url, clip(e.description, 40)]);
  return table(['WEBHOOK', 'TENANT', 'STATE', 'EVENTS', 'FAILING SINCE', 'URL', 'DESCRIPTION'], rows);
}

/** One endpoint as `field: value` lines (show, update, and under a new secret). */
export function endpointLines(e: WebhookEndpointView): string {
  const lines: Array<[string, string]> = [
    ['webhook', e.id],
    ['url', e.url],
    ['tenant', e.tenant],
    ['events', e.events.join(', ')],
    ['description', orDash(e.description)],
    ['state', endpointState(e)],
    ['failing since', orDash(e.failing_since)],
    ['previous secret expires', orDash(e.previous_secret_expires_at)],
    ['created', e.created_at],
    ['updated', e.updated_at],
  ];
  const width = Math.max(...lines.map(([label]) => label.length)) + 1;
  return lines.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`).join('\n');
}

/** What the last attempt got: the HTTP status the endpoint answered, or why there was none. */
export function lastOutcome(d: Pick<WebhookDeliveryView, 'last_status_code' | 'last_error'>): string {
  if (d.last_status_code !== null) return d.last_error ? `${d.last_status_code} ${clip(d.last_error, 40)}` : String(d.last_status_code);
  return d.last_error ? clip(d.last_error, 48) : '-';
}

export function deliveriesTable(deliveries: WebhookDeliveryView[]): string {
  const rows = deliveries.map((d) => [d.id, d.event_type, d.job_id, d.status, String(d.attempts), lastOutcome(d), orDash(d.next_attempt_at), orDash(d.delivered_at)]);
  return table(['DELIVERY', 'EVENT', 'JOB', 'STATUS', 'ATTEMPTS', 'LAST', 'NEXT ATTEMPT', 'DELIVERED AT'], rows);
}

/** What a replay did, and how to go on when its scan stopped before the end of the log. */
export function replayLines(id: string, outcome: WebhookReplayOutcome): string {
  const lines = [`queued ${outcome.queued} ${outcome.queued === 1 ? 'delivery' : 'deliveries'}, from the events at stream sequences ${outcome.from_seq} to ${outcome.to_seq}`];
  if (outcome.truncated) lines.push(`the scan stopped at its limit before the end of the log: go on with framewire webhooks replay ${id} --from seq:${outcome.to_seq + 1}`);
  return lines.join('\n');
}

function secretLines(endpoint: WebhookWithSecret, headline: string): string {
  const lines = [headline, '', endpointLines(endpoint), '', `secret: ${endpoint.secret}`, 'Store the secret now: it is not shown again (rotate-secret makes a new one).'];
  if (endpoint.previous_secret_expires_at) lines.push(`The previous secret also signs deliveries until ${endpoint.previous_secret_expires_at}.`);
  return lines.join('\n');
}

const out = (text: string): void => void process.stdout.write(`${text}\n`);

interface CreateOptions extends GatewayOptions {
  events?: WebhookEventType[];
  description?: string;
  tenant?: string;
}

interface DeliveriesOptions extends GatewayOptions {
  limit: number;
  all: boolean;
  status?: WebhookDeliveryView['status'];
}

interface ReplayOptions extends GatewayOptions {
  from: string;
}

/**
 * `framewire webhooks ...`: the endpoints that Framewire calls, signed (Standard Webhooks), when a
 * job of their tenant starts, progresses or ends; their deliveries, and sending them again.
 */
export function webhooksCommand(): Command {
  const webhooks = new Command('webhooks').description('webhook endpoints, their signing secrets and deliveries');

  webhooks.addCommand(
    withGatewayOptions(
      new Command('create')
        .description('register an endpoint and print its signing secret (once)')
        .argument('<url>', 'where deliveries are POSTed (https)')
        .option('--events <list>', `comma-separated: ${WEBHOOK_EVENT_TYPES.join(', ')} (default ${DEFAULT_WEBHOOK_EVENTS.join(',')})`, eventsArgument)
        .option('--description <text>', 'a note to recognise it by')
        .option('--tenant <tenant>', "whose jobs it hears (admin keys only; default the key's tenant)", tenantArgument),
    ).action(
      runAction(async (url: string, options: CreateOptions) => {
        const body = { url, ...(options.events ? { events: options.events } : {}), ...(options.description !== undefined ? { description: options.description } : {}), ...(options.tenant ? { tenant: options.tenant } : {}) };
        const created = await clientFor(options).webhooks.create(body);
        out(options.json ? JSON.stringify(created) : secretLines(created, `webhook ${created.id} created`));
      }),
    ),
  );

  webhooks.addCommand(
    withGatewayOptions(new Command('list').description('list the endpoints the key may see')).action(
      runAction(async (options: GatewayOptions) => {
        const list = { webhooks: await clientFor(options).webhooks.list() };
        if (options.json) out(JSON.stringify(list));
        else out(list.webhooks.length === 0 ? 'no webhooks' : endpointsTable(list.webhooks));
      }),
    ),
  );

  webhooks.addCommand(
    withGatewayOptions(new Command('show').description('one endpoint').argument('<id>', 'the webhook', webhookIdArgument)).action(
      runAction(async (id: string, options: GatewayOptions) => {
        const endpoint = await clientFor(options).webhooks.get(id);
        out(options.json ? JSON.stringify(endpoint) : endpointLines(endpoint));
      }),
    ),
  );

  webhooks.addCommand(
    withGatewayOptions(
      new Command('update')
        .description('change an endpoint: its URL, events or description; switch it on or off')
        .argument('<id>', 'the webhook', webhookIdArgument)
        // Not --url: that names the gateway, as on every command that talks to it.
        .option('--webhook-url <url>', 'a new URL for the endpoint')
        .option('--events <list>', `comma-separated: ${WEBHOOK_EVENT_TYPES.join(', ')}`, eventsArgument)
        .option('--description <text>', 'a new description')
        .addOption(new Option('--enable', 'switch it on (also one that Framewire disabled after failing)').conflicts('disable'))
        .addOption(new Option('--disable', 'switch it off: nothing is delivered until --enable')),
    ).action(
      runAction(async (id: string, options: GatewayOptions & UpdateOptions, command: Command) => {
        const body = updateBody(options);
        if (!body) command.error('error: give at least one of --webhook-url, --events, --description, --enable, --disable');
        const endpoint = await clientFor(options).webhooks.update(id, body);
        out(options.json ? JSON.stringify(endpoint) : endpointLines(endpoint));
      }),
    ),
  );

  webhooks.addCommand(
    withGatewayOptions(new Command('delete').description('delete an endpoint and its deliveries').argument('<id>', 'the webhook', webhookIdArgument)).action(
      runAction(async (id: string, options: GatewayOptions) => {
        const outcome = await clientFor(options).webhooks.delete(id);
        out(options.json ? JSON.stringify(outcome) : `webhook ${outcome.id} deleted`);
      }),
    ),
  );

  webhooks.addCommand(
    withGatewayOptions(
      new Command('rotate-secret').description('give an endpoint a new signing secret and print it (once); the old one signs beside it for a while').argument('<id>', 'the webhook', webhookIdArgument),
    ).action(
      runAction(async (id: string, options: GatewayOptions) => {
        const rotated = await clientFor(options).webhooks.rotateSecret(id);
        out(options.json ? JSON.stringify(rotated) : secretLines(rotated, `webhook ${rotated.id} has a new secret`));
      }),
    ),
  );

  webhooks.addCommand(
    withGatewayOptions(
      new Command('deliveries')
        .description("an endpoint's deliveries, newest first")
        .argument('<id>', 'the webhook', webhookIdArgument)
        .option('--limit <n>', `at most this many (a page, 1-${DELIVERIES_LIMIT_MAX})`, deliveriesLimitArgument, DELIVERIES_LIMIT_DEFAULT)
        .option('--all', 'every page, not just the first', false)
        // The API has no status filter: this one sorts the pages fetched (with --all, every delivery).
        .option('--status <status>', `only these (${DELIVERY_STATUSES.join(', ')}), among the pages fetched`, deliveryStatusArgument),
    ).action(
      runAction(async (id: string, options: DeliveriesOptions) => {
        const deliveries: WebhookDeliveryView[] = [];
        let cursor: string | null = null;
        let more = false;
        do {
          const query = { limit: options.limit, ...(cursor ? { cursor } : {}) };
          const page: WebhookDeliveriesPage = await call(clientFor(options).api.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id }, query } }));
          deliveries.push(...page.deliveries);
          more = page.next_cursor !== null;
          cursor = options.all ? page.next_cursor : null;
        } while (cursor);
        const shown = options.status ? deliveries.filter((d) => d.status === options.status) : deliveries;
        if (options.json) {
          out(JSON.stringify({ deliveries: shown }));
          return;
        }
        out(shown.length === 0 ? 'no deliveries' : deliveriesTable(shown));
        if (more && !options.all) out('\nmore: --all lists every page');
      }),
    ),
  );

  webhooks.addCommand(
    withGatewayOptions(
      new Command('retry').description('send a delivery again now (a failed one too)').argument('<id>', 'the webhook', webhookIdArgument).argument('<deliveryId>', 'the delivery', deliveryIdArgument),
    ).action(
      runAction(async (id: string, deliveryId: string, options: GatewayOptions) => {
        const delivery = await call(clientFor(options).api.POST('/v1/webhooks/{id}/deliveries/{deliveryId}/retry', { params: { path: { id, deliveryId } } }));
        out(options.json ? JSON.stringify(delivery) : `delivery ${delivery.id} (${delivery.event_type} of job ${delivery.job_id}) queued again: ${delivery.status}, ${delivery.attempts} attempt(s) so far`);
      }),
    ),
  );

  webhooks.addCommand(
    withGatewayOptions(
      new Command('replay')
        .description("send the endpoint again every event of its tenant and types that the log holds from a point on")
        .argument('<id>', 'the webhook', webhookIdArgument)
        .requiredOption('--from <seq|time>', 'a stream sequence (1234 or seq:1234) or an ISO time with a zone (2026-12-05T10:00:00Z)', replayFromArgument),
    ).action(
      runAction(async (id: string, options: ReplayOptions) => {
        const outcome = await call(clientFor(options).api.POST('/v1/webhooks/{id}/replay', { params: { path: { id } }, body: { from: options.from } }));
        out(options.json ? JSON.stringify(outcome) : replayLines(id, outcome));
      }),
    ),
  );

  return webhooks;
}

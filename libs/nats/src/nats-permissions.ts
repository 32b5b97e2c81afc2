import type { JobSubjects } from '@app/contracts';
import { PROJECTOR_CONSUMER, WEBHOOK_CONSUMER, WORK_CONSUMERS } from './durable-consumers.js';

/**
 * Who may publish and subscribe to what on NATS. Each service connects as its own user and gets only
 * the subjects it needs; everything else is denied by the server. The rules that make the log
 * trustworthy:
 * - the gateway publishes only work requests (`<ns>.job.<id>.submitted.<priority>`), Object Store
 *   uploads and requests to the jobs service, and reads the stream and the workers' registry; it can
 *   never append a lifecycle event such as `JobCompleted`, change the stream, or delete or purge events;
 * - the jobs service owns the stream and the advisory capture (creates and updates them, consumes the
 *   advisories), answers request/reply, appends the
 *   lifecycle events an operator asks for (cancel, delete, and redrive's new work request), broadcasts key
 *   revocations and nudges workers to stop a cancelled job; it deletes objects (a deleted job's, and
 *   the storage sweep's garbage: delete markers and purges by subject, never a chunk written) and sets
 *   the bucket's size limit;
 * - workers append lifecycle events, read uploads, write artifacts, hear new work (the doorbell) and
 *   cancel nudges; of the consumers they may delete only their own work consumers (to make one again
 *   when its filter changed), never the projector's;
 * - no service may create, change, pull from or ack another service's durable consumer: the wildcards
 *   that ordered consumers need (their names are random) would reach them, so they are denied by name.
 *   Otherwise the gateway could re-point the workers' filter (no job would run) or pull jobs without
 *   acking them (each would wait out the ack wait and use up its deliveries), and a worker could ack
 *   the projector's messages (events that never reach the read model).
 * `deploy/nats/permissions.conf` (used by docker-compose) is rendered from this, and a test checks
 * that the two agree; `framewire start` can render the same set for a nats-server it starts.
 */
export type ServiceRole = 'gateway' | 'jobs' | 'worker';
export const SERVICE_ROLES: readonly ServiceRole[] = ['gateway', 'jobs', 'worker'];

export interface RolePermissions {
  publish: string[];
  /** Refused even where `publish` allows them (a deny wins over an allow on nats-server). */
  publishDeny: string[];
  subscribe: string[];
  /** May answer requests it received (publish once to their reply subject). */
  allowResponses: boolean;
}

/** Each service's inbox lives under its own prefix, so no service can read another's replies. */
export function inboxPrefixOf(role: ServiceRole): string {
  return `_INBOX_${role}`;
}

const api = '$JS.API';

/** JetStream API subjects for one stream, grouped by what they let a client do. */
function streamApi(stream: string) {
  return {
    info: [`${api}.STREAM.INFO.${stream}`],
    create: [`${api}.STREAM.CREATE.${stream}`],
    update: [`${api}.STREAM.UPDATE.${stream}`],
    purge: [`${api}.STREAM.PURGE.${stream}`],
    /** Deleting single messages by sequence. */
    deleteMessage: [`${api}.STREAM.MSG.DELETE.${stream}`],
    /** Reading single messages: by sequence, last or next by subject. */
    get: [`${api}.STREAM.MSG.GET.${stream}`, `${api}.DIRECT.GET.${stream}`, `${api}.DIRECT.GET.${stream}.>`],
    /** Creating, reading and pulling from consumers (ordered ones for reads, durables for work). */
    consume: [
      `${api}.CONSUMER.CREATE.${stream}`,
      `${api}.CONSUMER.CREATE.${stream}.*`,
      `${api}.CONSUMER.CREATE.${stream}.*.>`,
      `${api}.CONSUMER.DURABLE.CREATE.${stream}.*`,
      `${api}.CONSUMER.INFO.${stream}.*`,
      `${api}.CONSUMER.MSG.NEXT.${stream}.*`,
      `$JS.ACK.${stream}.>`,
    ],
    deleteConsumer: [`${api}.CONSUMER.DELETE.${stream}.*`],
    /** Listing the consumers and their state (the system view and the metrics): read only. */
    listConsumers: [`${api}.CONSUMER.LIST.${stream}`],
  };
}

/** Everything that creates or changes (nats-server 2.9 updates on create), pulls from or acks one durable consumer. */
function durableConsumerApi(stream: string, name: string): string[] {
  return [
    `${api}.CONSUMER.CREATE.${stream}.${name}`,
    `${api}.CONSUMER.CREATE.${stream}.${name}.>`,
    `${api}.CONSUMER.DURABLE.CREATE.${stream}.${name}`,
    `${api}.CONSUMER.MSG.NEXT.${stream}.${name}`,
    `$JS.ACK.${stream}.${name}.>`,
  ];
}

export function natsPermissions(subjects: JobSubjects): Record<ServiceRole, RolePermissions> {
  const ns = subjects.namespace;
  const events = streamApi(subjects.streamName);
  const advisories = streamApi(subjects.advisoryStreamName);
  const objects = streamApi(`OBJ_${subjects.videoBucket}`);
  const workersKv = streamApi(`KV_${subjects.workersBucket}`);
  const uploadsKv = streamApi(`KV_${subjects.uploadsBucket}`);
  const uploadLocksKv = streamApi(`KV_${subjects.uploadLocksBucket}`);
  const orderedReads = (s: string) => !s.startsWith('$JS.ACK') && !s.includes('DURABLE');
  const objectWrites = [`$O.${subjects.videoBucket}.C.>`, `$O.${subjects.videoBucket}.M.>`];
  const lifecycle = `${ns}.job.*.lifecycle`;
  const rpc = `${ns}.rpc.>`;
  const workConsumers = Object.values(WORK_CONSUMERS).flatMap((name) => durableConsumerApi(subjects.streamName, name));
  const projectorConsumer = durableConsumerApi(subjects.streamName, PROJECTOR_CONSUMER);
  const webhookConsumer = durableConsumerApi(subjects.streamName, WEBHOOK_CONSUMER);

  return {
    gateway: {
      publish: [
        subjects.allSubmitted,
        `${rpc}`,
        `${api}.INFO`,
        ...events.info,
        ...events.get,
        // Following a job's events live (SSE and WebSocket): ordered consumers, read only.
        ...events.consume.filter((s) => !s.startsWith('$JS.ACK') && !s.includes('DURABLE')),
        // GET /v1/system: the stream's consumers and their backlog.
        ...events.listConsumers,
        ...objectWrites,
        ...objects.info,
        ...objects.create,
        ...objects.get,
        ...objects.purge,
        // A read's ordered consumer, deleted when the read ends (the bucket's stream has no durable consumers).
        ...objects.deleteConsumer,
        ...objects.consume.filter((s) => !s.startsWith('$JS.ACK') && !s.includes('DURABLE')),
        // Listing the workers (GET /v1/workers, /v1/worker/health): reads the registry bucket, never writes it.
        ...workersKv.info,
        ...workersKv.get,
        ...workersKv.consume.filter((s) => !s.startsWith('$JS.ACK') && !s.includes('DURABLE')),
        `$JS.FC.KV_${subjects.workersBucket}.>`,
        // Resumable uploads (tus): their bytes are chunks in the video bucket (above); a chunk published
        // past an upload's committed point (a PATCH refused by its checksum, a gateway that died) is
        // deleted by sequence. The gateways alone own the uploads' state and lock buckets; they create
        // them, write and read them, and delete what expired or completed.
        ...objects.deleteMessage,
        `$KV.${subjects.uploadsBucket}.>`,
        `$KV.${subjects.uploadLocksBucket}.>`,
        ...[uploadsKv, uploadLocksKv].flatMap((s) => [
          ...s.info,
          ...s.create,
          ...s.update,
          ...s.get,
          ...s.purge,
          ...s.deleteConsumer,
          ...s.consume.filter(orderedReads),
        ]),
        `$JS.FC.KV_${subjects.uploadsBucket}.>`,
      ],
      publishDeny: [...workConsumers, ...projectorConsumer, ...webhookConsumer],
      subscribe: [`${inboxPrefixOf('gateway')}.>`, subjects.keyRevoked],
      allowResponses: false,
    },
    jobs: {
      publish: [
        lifecycle,
        // Redrives: a failed or cancelled job's new work request.
        subjects.allSubmitted,
        subjects.keyRevoked,
        subjects.cancelRequested,
        `${api}.INFO`,
        ...events.info,
        ...events.create,
        ...events.update,
        ...events.get,
        ...events.consume,
        ...events.deleteConsumer,
        // The metrics of every durable consumer on the stream.
        ...events.listConsumers,
        // The capture of MAX_DELIVERIES advisories, which the jobs service owns and consumes.
        ...advisories.info,
        ...advisories.create,
        ...advisories.update,
        ...advisories.consume,
        ...objects.info,
        ...objects.create,
        ...objects.get,
        // Deletion and the storage sweep: delete markers (metadata), purges of chunks by subject,
        // listing the objects (ordered consumers), and the bucket's size limit (NATS_BUCKET_MAX_BYTES).
        `$O.${subjects.videoBucket}.M.>`,
        ...objects.purge,
        // A read's ordered consumer, deleted when the read ends (the bucket's stream has no durable consumers).
        ...objects.deleteConsumer,
        ...objects.update,
        ...objects.consume.filter((s) => !s.startsWith('$JS.ACK') && !s.includes('DURABLE')),
        // The storage sweep reads the resumable uploads' state (never writes it) to leave the chunks of
        // an unexpired upload alone.
        ...uploadsKv.info,
        ...uploadsKv.get,
        ...uploadsKv.deleteConsumer,
        ...uploadsKv.consume.filter(orderedReads),
        `$JS.FC.KV_${subjects.uploadsBucket}.>`,
      ],
      // The jobs service owns the stream (it may delete it), so denying it the workers' consumers would protect nothing.
      publishDeny: [],
      subscribe: [`${inboxPrefixOf('jobs')}.>`, rpc],
      allowResponses: true,
    },
    worker: {
      publish: [
        lifecycle,
        // Split jobs (issue #19): the split, the parts' and the join's work requests, each part's events.
        `${ns}.job.*.split`,
        subjects.allPartWork,
        `${ns}.job.*.part.*`,
        // A part that fails the job stops the job's other parts at once, as a cancel does.
        subjects.cancelRequested,
        `${api}.INFO`,
        ...events.info,
        ...events.get,
        ...events.consume,
        // A work consumer whose filter changed (an upgrade) is deleted and made again; no other consumer.
        ...Object.values(WORK_CONSUMERS).map((name) => `${api}.CONSUMER.DELETE.${subjects.streamName}.${name}`),
        ...objectWrites,
        ...objects.info,
        ...objects.create,
        ...objects.get,
        ...objects.purge,
        // A read's ordered consumer, deleted when the read ends (the bucket's stream has no durable consumers).
        ...objects.deleteConsumer,
        ...objects.consume.filter((s) => !s.startsWith('$JS.ACK') && !s.includes('DURABLE')),
        // The workers' registry (heartbeats with a TTL) is a KV bucket.
        `$KV.${subjects.workersBucket}.>`,
        ...workersKv.info,
        ...workersKv.create,
        // Bringing the bucket's replicas to NATS_STREAM_REPLICAS when an older version made it with one.
        ...workersKv.update,
        ...workersKv.get,
      ],
      publishDeny: [...projectorConsumer, ...webhookConsumer],
      // The work subjects are the doorbell: a new job wakes an idle worker, which then pulls it.
      subscribe: [`${inboxPrefixOf('worker')}.>`, subjects.allSubmitted, subjects.allPartWork, subjects.cancelRequested],
      allowResponses: false,
    },
  };
}

/**
 * The `authorization` block of a nats-server config: one user per service with its permissions, plus
 * an operator user (`admin`) with no restrictions for the `framewire` CLI's replay and maintenance.
 * `passwords` holds literal passwords or, as in deploy/nats, `$ENV_VAR` references that nats-server
 * resolves from its environment.
 */
export function renderNatsAuthorization(subjects: JobSubjects, passwords: Record<ServiceRole | 'admin', string>): string {
  const permissions = natsPermissions(subjects);
  const list = (items: string[]) => `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;
  const value = (password: string) => (password.startsWith('$') ? password : JSON.stringify(password));
  const users = SERVICE_ROLES.map((role) => {
    const p = permissions[role];
    return [
      `    {`,
      `      user: ${role}, password: ${value(passwords[role])}`,
      `      permissions: {`,
      `        publish: { allow: ${list(p.publish)}${p.publishDeny.length > 0 ? `, deny: ${list(p.publishDeny)}` : ''} }`,
      `        subscribe: { allow: ${list(p.subscribe)} }`,
      ...(p.allowResponses ? ['        allow_responses: true'] : []),
      `      }`,
      `    }`,
    ].join('\n');
  });
  users.push(`    { user: admin, password: ${value(passwords.admin)} }`);
  return `authorization {\n  users: [\n${users.join('\n')}\n  ]\n}\n`;
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { JetStreamFigures } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { METRICS_REGISTRY } from '@app/observability';

/** How long one reading of the stream's state serves scrapes, so a burst of scrapes asks JetStream once. */
const FIGURES_TTL_MS = 1000;

/**
 * The jobs service's metrics: the stream and every durable consumer on it (backlog, in progress,
 * redelivered), the projector's checkpoint and lag, the events it has projected and those the read
 * model parked. Stream and consumer figures are read from JetStream, and the parked count from
 * PostgreSQL, when Prometheus scrapes, never on a timer.
 */
@Injectable()
export class JobsMetrics {
  private readonly logger = new Logger(JobsMetrics.name);
  readonly projected: Counter<'type'>;
  readonly deleted: Counter<'reason'>;
  readonly objectsRemoved: Counter<'kind'>;
  readonly chunksPurged: Counter;
  readonly unreadable: Counter<'command'>;
  private position: () => number = () => 0;
  private parked: () => Promise<number> = async () => 0;
  private cached: { at: number; figures: Promise<JetStreamFigures | null> } | null = null;

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly store: EventStore,
  ) {
    const registers = [registry];
    const figures = () => this.figures();
    this.projected = new Counter({
      name: 'framewire_projector_events_total',
      help: 'Events the projector has written into the read model, by type',
      labelNames: ['type'],
      registers,
    });
    this.deleted = new Counter({
      name: 'framewire_jobs_deleted_total',
      help: 'Jobs deleted (JobDeleted appended), by reason: request or retention',
      labelNames: ['reason'],
      registers,
    });
    this.objectsRemoved = new Counter({
      name: 'framewire_storage_objects_removed_total',
      help: 'Objects removed from the Object Store by deletions and the storage sweep, by kind (deleted-job, unsubmitted-upload, stale-attempt)',
      labelNames: ['kind'],
      registers,
    });
    this.chunksPurged = new Counter({
      name: 'framewire_storage_orphan_chunks_purged_total',
      help: 'Object Store chunk subjects with no object (an upload cut off midway) purged by the storage sweep',
      registers,
    });
    this.unreadable = new Counter({
      name: 'framewire_jobs_unreadable_total',
      help: 'Commands refused, and dead letters left for later, because the job history holds an event this release cannot read, by command',
      labelNames: ['command'],
      registers,
    });
    new Gauge({
      name: 'framewire_stream_messages',
      help: 'Messages in the event stream',
      registers,
      async collect() {
        const f = await figures();
        if (f) this.set(f.stream.messages);
      },
    });
    new Gauge({
      name: 'framewire_stream_last_seq',
      help: 'Last sequence of the event stream',
      registers,
      async collect() {
        const f = await figures();
        if (f) this.set(f.stream.last_seq);
      },
    });
    const perConsumer = (name: string, help: string, pick: (c: JetStreamFigures['consumers'][number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['consumer'],
        registers,
        async collect() {
          const f = await figures();
          this.reset();
          for (const c of f?.consumers ?? []) this.set({ consumer: c.name }, pick(c));
        },
      });
    perConsumer('framewire_consumer_pending', 'Messages not yet delivered to the consumer (backlog)', (c) => c.pending);
    perConsumer('framewire_consumer_ack_pending', 'Messages delivered to the consumer and not yet acknowledged', (c) => c.ack_pending);
    perConsumer('framewire_consumer_redelivered', 'Messages the consumer has had redelivered', (c) => c.redelivered);
    perConsumer('framewire_consumer_waiting', 'Pull requests waiting on the consumer (workers pull without waiting, so mostly 0)', (c) => c.waiting);
    const position = () => this.position();
    new Gauge({
      name: 'framewire_projector_checkpoint',
      help: 'Last stream sequence the read model reflects',
      registers,
      collect() {
        this.set(position());
      },
    });
    const parked = () => this.parked();
    const logger = this.logger;
    new Gauge({
      name: 'framewire_projector_parked_events',
      help: 'Events the read model goes on without: their row could not be written (GET /v1/system lists them; alert on > 0)',
      registers,
      async collect() {
        try {
          this.set(await parked());
        } catch (error) {
          // PostgreSQL is away: no reading this time, rather than a wrong one.
          logger.warn(`cannot read the parked events: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
    });
    new Gauge({
      name: 'framewire_projector_lag',
      help: 'Events in the stream not yet in the read model (stream last sequence minus the checkpoint)',
      registers,
      async collect() {
        const f = await figures();
        if (f) this.set(Math.max(0, f.stream.last_seq - position()));
      },
    });
  }

  /** Where the projector is, read at scrape time. */
  trackPosition(position: () => number): void {
    this.position = position;
  }

  /** How many events the read model has parked, read at scrape time. */
  trackParked(parked: () => Promise<number>): void {
    this.parked = parked;
  }

  private figures(): Promise<JetStreamFigures | null> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < FIGURES_TTL_MS) return this.cached.figures;
    const figures = this.store.figures().catch((error: unknown) => {
        this.logger.warn(`cannot read stream figures: ${error instanceof Error ? error.message : String(error)}`);
        return null;
      });
    this.cached = { at: now, figures };
    return figures;
  }
}

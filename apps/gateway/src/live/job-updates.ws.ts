import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, isJobId } from '@app/contracts';
import { ApiKeyAuthenticator } from '../auth/api-key.authenticator.js';
import { MEDIA_LINK_PARAM } from '../auth/media-links.js';
import { ApiError, statusOf } from '../http/api-error.js';
import { rawErrorResponse } from '../http/raw-error.js';
import { ClientAddresses } from '../http/client-address.js';
import { LiveStreamSlots } from '../limits/live-stream-slots.js';
import { RateLimitGuard } from '../limits/rate-limit.guard.js';
import { JobUpdatesService, type JobUpdate } from './job-updates.service.js';
import { seedsStatus } from '../seeds/seeds-status.js';

const PATH = /^\/v1\/ws\/jobs\/([^/?#]+)\/?$/;
const HEARTBEAT_MS = 30_000;

/** The seeds' WebSocket message. */
export interface SeedsProgressMessage {
  job_id: string;
  status: 'pending' | 'running' | 'completed' | 'failed';
  current_frame: number;
  total_frames: number | null;
  percent: number;
}

/**
 * `/v1/ws/jobs/{id}`: the same live updates as the SSE stream, as the seeds' messages
 * `{job_id, status, current_frame, total_frames, percent}`; closed (1000) after the terminal one.
 *
 * Nest's guards never see a raw upgrade, so this handshake does what they do, before it accepts:
 * authenticate (`Authorization: Bearer <key>`, or the job's signed media link in `?token=` for a
 * browser, which cannot set headers on a WebSocket), count the request against the key's rate limit,
 * take one of the key's live-stream slots, and check that the principal may see the job. A malformed
 * id, a missing or bad key, too many requests or streams and a job that does not exist or belongs to
 * another tenant are refused with the usual JSON error (400, 401, 429, 404) and no upgrade.
 */
@Injectable()
export class JobUpdatesWebSocket implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JobUpdatesWebSocket.name);
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly updates: JobUpdatesService,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly rateLimit: RateLimitGuard,
    private readonly slots: LiveStreamSlots,
    private readonly addresses: ClientAddresses,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const match = PATH.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
      if (!match) return refuse(socket, new ApiError(ErrorCode.RouteNotFound, `no WebSocket at ${req.url ?? ''}`));
      void this.accept(req, socket, head, match[1]!);
    });
  }

  onApplicationShutdown(): void {
    for (const client of this.wss.clients) client.close(1001, 'server shutting down');
    this.wss.close();
  }

  private async accept(req: IncomingMessage, socket: Duplex, head: Buffer, rawId: string): Promise<void> {
    let snapshot;
    try {
      const client = this.addresses.of(req);
      const token = new URL(req.url ?? '/', 'http://localhost').searchParams.getAll(MEDIA_LINK_PARAM);
      const principal = await this.authenticator.authenticateForJobMedia(req.headers.authorization, token.length > 1 ? token : token[0], safeDecode(rawId), client);
      await this.rateLimit.take(principal, client);
      const id = safeDecode(rawId);
      if (!isJobId(id)) throw new ApiError(ErrorCode.InvalidJobId, 'a job id is a UUID');
      // The slot is the connection's: given back when its socket closes, whether or not it was upgraded.
      socket.once('close', this.slots.acquire(principal, client, 'job_websocket'));
      snapshot = await this.updates.snapshot(principal, id.toLowerCase());
    } catch (error) {
      if (!(error instanceof ApiError)) this.logger.error(`WebSocket handshake failed: ${error instanceof Error ? error.message : String(error)}`);
      return refuse(socket, error instanceof ApiError ? error : new ApiError(ErrorCode.Internal, 'internal error'));
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => void this.serve(ws, snapshot));
  }

  private async serve(ws: WebSocket, snapshot: Awaited<ReturnType<JobUpdatesService['snapshot']>>): Promise<void> {
    const abort = new AbortController();
    ws.on('close', () => abort.abort());
    ws.on('error', () => abort.abort());
    // A ping every HEARTBEAT_MS; a client that did not answer the last one is gone (its network
    // vanished without a close) and is cut off, so its slot and its consumer do not stay held.
    let answered = true;
    ws.on('pong', () => (answered = true));
    const heartbeat = setInterval(() => {
      if (!answered) return ws.terminate();
      answered = false;
      ws.ping();
    }, HEARTBEAT_MS);
    ws.on('close', () => clearInterval(heartbeat));
    let last: SeedsProgressMessage = { job_id: snapshot.job_id, status: seedsStatus(snapshot.status), current_frame: snapshot.progress_detail?.current_frame ?? 0, total_frames: snapshot.progress_detail?.total_frames ?? null, percent: snapshot.progress };
    try {
      for await (const update of this.updates.follow(snapshot, abort.signal)) {
        last = toSeedsMessage(update, last);
        if (ws.readyState !== ws.OPEN) break;
        ws.send(JSON.stringify(last));
      }
      if (ws.readyState === ws.OPEN) ws.close(1000, last.status);
    } catch (error) {
      this.logger.warn(`job ${snapshot.job_id}: WebSocket updates stopped: ${error instanceof Error ? error.message : String(error)}`);
      if (ws.readyState === ws.OPEN) ws.close(1011, 'updates failed');
    }
  }
}

export function toSeedsMessage(update: JobUpdate, previous: SeedsProgressMessage): SeedsProgressMessage {
  switch (update.kind) {
    case 'progress':
      return { job_id: update.data.job_id, status: 'running', current_frame: update.data.current_frame, total_frames: update.data.total_frames, percent: update.data.percent };
    case 'status': {
      const progress = update.data.progress;
      const status = seedsStatus(update.data.status);
      if (progress) return { ...previous, status, current_frame: progress.current_frame, total_frames: progress.total_frames, percent: progress.percent };
      // A new attempt starts from zero.
      return status === previous.status ? { ...previous } : { ...previous, status, current_frame: 0, percent: status === 'running' || status === 'pending' ? 0 : previous.percent };
    }
    case 'completed':
      return { ...previous, status: 'completed', current_frame: previous.total_frames ?? previous.current_frame, percent: 100 };
    case 'failed':
    case 'cancelled':
    case 'deleted':
      return { ...previous, status: 'failed' };
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Answers an upgrade request with a plain HTTP error (and its headers: WWW-Authenticate, Retry-After)
 * and closes the socket once the answer is written. Ending it is not enough: the HTTP server's sockets
 * are half-open, so a client that never closes its side would keep the connection, and the
 * live-stream slot the handshake took, for ever.
 */
function refuse(socket: Duplex, error: ApiError): void {
  socket.end(rawErrorResponse(statusOf(error.code), error.code, error.message, error.headers), () => socket.destroy());
}

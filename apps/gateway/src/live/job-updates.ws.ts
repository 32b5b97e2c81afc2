import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, isJobId } from '@app/contracts';
import { ApiError, statusOf } from '../http/api-error.js';
import { errorBody } from '../http/api-exception.filter.js';
import { JobUpdatesService, type JobUpdate } from './job-updates.service.js';
import { seedsStatus } from '../seeds/seeds-status.js';

const PATH = /^\/v1\/ws\/jobs\/([^/?#]+)\/?$/;

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
 * A malformed or unknown id is refused before the upgrade with the usual JSON error.
 */
@Injectable()
export class JobUpdatesWebSocket implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(JobUpdatesWebSocket.name);
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly updates: JobUpdatesService,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const match = PATH.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
      if (!match) return refuse(socket, new ApiError(ErrorCode.RouteNotFound, `no WebSocket at ${req.url ?? ''}`));
      void this.accept(req, socket, head, decodeURIComponent(match[1]!));
    });
  }

  onApplicationShutdown(): void {
    for (const client of this.wss.clients) client.close(1001, 'server shutting down');
    this.wss.close();
  }

  private async accept(req: IncomingMessage, socket: Duplex, head: Buffer, id: string): Promise<void> {
    let snapshot;
    try {
      if (!isJobId(id)) throw new ApiError(ErrorCode.InvalidJobId, 'a job id is a UUID');
      snapshot = await this.updates.snapshot(id.toLowerCase());
    } catch (error) {
      return refuse(socket, error instanceof ApiError ? error : new ApiError(ErrorCode.Internal, 'internal error'));
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => void this.serve(ws, snapshot));
  }

  private async serve(ws: WebSocket, snapshot: Awaited<ReturnType<JobUpdatesService['snapshot']>>): Promise<void> {
    const abort = new AbortController();
    ws.on('close', () => abort.abort());
    ws.on('error', () => abort.abort());
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
      return { ...previous, status: 'failed' };
  }
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
function refuse(socket: Duplex, error: ApiError): void {
  const status = statusOf(error.code);
  const body = JSON.stringify(errorBody(error.code, error.message));
  socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : status === 400 ? 'Bad Request' : 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

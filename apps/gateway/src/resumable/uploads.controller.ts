import { Controller, Delete, Head, Options, Patch, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { ClientAddresses } from '../http/client-address.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';
import { UploadSlots } from '../limits/upload-slots.js';
import { ResumableUploadsService } from './resumable-uploads.service.js';

/**
 * /v1/uploads: resumable uploads (tus 1.0.0). Thin: the auth guard and the rate limit have run (the
 * global guards), the request takes one of its key's upload slots while it sends bytes, and the tus
 * server answers it for the principal's tenant. OPTIONS (tus discovery) needs a key too; a browser's
 * CORS preflight never reaches it (the CORS middleware answers it, for CORS_ORIGINS only).
 */
@Controller('v1/uploads')
@UseGuards(NatsAvailableGuard)
export class UploadsController {
  constructor(
    private readonly uploads: ResumableUploadsService,
    private readonly slots: UploadSlots,
    private readonly addresses: ClientAddresses,
  ) {}

  @Options()
  discover(@CurrentPrincipal() principal: Principal, @Req() req: Request, @Res() res: Response) {
    return this.uploads.handle({ req, res, tenant: principal.tenant, correlationId: String(req.id) });
  }

  /** Creates an upload (creation), with its first bytes if the request has a body (creation-with-upload). */
  @Post()
  create(@CurrentPrincipal() principal: Principal, @Req() req: Request, @Res() res: Response) {
    return this.withSlot(principal, req, () => this.uploads.handle({ req, res, tenant: principal.tenant, correlationId: String(req.id) }));
  }

  /** Its offset, length and metadata; with Framewire-Job-Id once the upload has become a job. */
  @Head(':id')
  head(@CurrentPrincipal() principal: Principal, @Req() req: Request, @Res() res: Response) {
    return this.uploads.handle({ req, res, tenant: principal.tenant, correlationId: String(req.id) });
  }

  /** Appends bytes at Upload-Offset; the one that brings the last byte makes the job (Framewire-Job-Id). */
  @Patch(':id')
  append(@CurrentPrincipal() principal: Principal, @Req() req: Request, @Res() res: Response) {
    return this.withSlot(principal, req, () => this.uploads.handle({ req, res, tenant: principal.tenant, correlationId: String(req.id) }));
  }

  /** Terminates an unfinished upload: its bytes and state are deleted. */
  @Delete(':id')
  terminate(@CurrentPrincipal() principal: Principal, @Req() req: Request, @Res() res: Response) {
    return this.uploads.handle({ req, res, tenant: principal.tenant, correlationId: String(req.id) });
  }

  private async withSlot(principal: Principal, req: Request, run: () => Promise<void>): Promise<void> {
    const release = this.slots.acquire(principal, this.addresses.of(req));
    try {
      await run();
    } finally {
      release();
    }
  }
}

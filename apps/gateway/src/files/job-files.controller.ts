import { pipeline } from 'node:stream/promises';
import { Controller, Get, Header, Headers, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import type { Response } from 'express';
import { AcceptsMediaLink } from '../auth/route-access.decorator.js';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { parseArtifactName, parseJobId } from '../http/route-params.js';
import { JobFilesService, type FileResponse } from './job-files.service.js';
import { JobMediaLinksService } from './job-media-links.service.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';

/**
 * A job's result, artifacts and original upload, for the principal that may see the job (anyone
 * else gets 404, as for a job that does not exist). The video and the artifacts also open with a
 * signed media link, for a <video> element or a plain download link, which cannot send a key.
 */
@Controller('v1/jobs')
@UseGuards(NatsAvailableGuard)
export class JobFilesController {
  constructor(
    private readonly files: JobFilesService,
    private readonly links: JobMediaLinksService,
  ) {}

  @Get(':id/result')
  async result(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Res() res: Response) {
    const result = await this.files.result(principal, parseJobId(id));
    if ('inline' in result) {
      res.status(200).json(result.inline);
      return;
    }
    await send(res, { status: 200, headers: { 'Content-Type': 'application/json', 'Content-Length': String(result.size) }, body: result.stream });
  }

  @Get(':id/artifacts')
  artifacts(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.files.artifacts(principal, parseJobId(id));
  }

  @Get(':id/artifacts/:name')
  @AcceptsMediaLink()
  async artifact(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Param('name') name: string, @Res() res: Response) {
    await send(res, await this.files.artifact(principal, parseJobId(id), parseArtifactName(name)));
  }

  @Get(':id/video')
  @AcceptsMediaLink()
  async video(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Headers('range') range: string | undefined, @Res() res: Response) {
    await send(res, await this.files.video(principal, parseJobId(id), range));
  }

  /** Signed, short-lived links to the job's video and artifacts, for what cannot send a key. */
  @Post(':id/media-links')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  mediaLinks(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.links.issue(principal, parseJobId(id));
  }
}

/** Streams a file response; a client that goes away ends the read of the Object Store too. */
async function send(res: Response, file: FileResponse): Promise<void> {
  res.status(file.status);
  for (const [name, value] of Object.entries(file.headers)) res.setHeader(name, value);
  if (res.req.method === 'HEAD') {
    file.body.destroy();
    res.end();
    return;
  }
  await pipeline(file.body, res).catch(() => res.destroy());
}

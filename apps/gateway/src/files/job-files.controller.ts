import { pipeline } from 'node:stream/promises';
import { Controller, Get, Header, HttpCode, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AcceptsMediaLink, MediaLinkInPath } from '../auth/route-access.decorator.js';
import type { FileConditions } from './byte-range.js';
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
  async artifact(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Param('name') name: string, @Req() req: Request, @Res() res: Response) {
    await send(res, await this.files.artifact(principal, parseJobId(id), parseArtifactName(name), conditionsOf(req)));
  }

  /**
   * The same artifact, opened by the media link in the path (and only by it: see MediaLinkInPath),
   * for an HLS player: the playlists name each other and their files relatively, so every URL the
   * player resolves from `…/media/{token}/master.m3u8` carries the token. Any origin may read it
   * (MediaCorsMiddleware).
   */
  @Get(':id/media/:token/:name')
  @MediaLinkInPath()
  async mediaFile(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Param('name') name: string, @Req() req: Request, @Res() res: Response) {
    await send(res, await this.files.artifact(principal, parseJobId(id), parseArtifactName(name), conditionsOf(req)));
  }

  @Get(':id/video')
  @AcceptsMediaLink()
  async video(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Req() req: Request, @Res() res: Response) {
    await send(res, await this.files.video(principal, parseJobId(id), conditionsOf(req)));
  }

  /** Signed, short-lived links to the job's video and artifacts, for what cannot send a key. */
  @Post(':id/media-links')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  mediaLinks(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.links.issue(principal, parseJobId(id));
  }
}

/** The request headers that choose what part of a file is sent (a header sent twice counts as not sent). */
function conditionsOf(req: Request): FileConditions {
  const one = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
  return { range: one('range'), ifNoneMatch: one('if-none-match'), ifRange: one('if-range') };
}

/** Streams a file response; a client that goes away ends the read of the Object Store too. */
async function send(res: Response, file: FileResponse): Promise<void> {
  res.status(file.status);
  for (const [name, value] of Object.entries(file.headers)) res.setHeader(name, value);
  if (file.body === null || res.req.method === 'HEAD') {
    file.body?.destroy();
    res.end();
    return;
  }
  await pipeline(file.body, res).catch(() => res.destroy());
}

import { pipeline } from 'node:stream/promises';
import { Controller, Get, Headers, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { parseJobId } from '../http/query.js';
import { JobFilesService, type FileResponse } from './job-files.service.js';

/** A job's result, artifacts and original upload. */
@Controller('v1/jobs')
export class JobFilesController {
  constructor(private readonly files: JobFilesService) {}

  @Get(':id/result')
  async result(@Param('id') id: string, @Res() res: Response) {
    const result = await this.files.result(parseJobId(id));
    if ('inline' in result) {
      res.status(200).json(result.inline);
      return;
    }
    await send(res, { status: 200, headers: { 'Content-Type': 'application/json', 'Content-Length': String(result.size) }, body: result.stream });
  }

  @Get(':id/artifacts')
  artifacts(@Param('id') id: string) {
    return this.files.artifacts(parseJobId(id));
  }

  @Get(':id/artifacts/:name')
  async artifact(@Param('id') id: string, @Param('name') name: string, @Res() res: Response) {
    await send(res, await this.files.artifact(parseJobId(id), name));
  }

  @Get(':id/video')
  async video(@Param('id') id: string, @Headers('range') range: string | undefined, @Res() res: Response) {
    await send(res, await this.files.video(parseJobId(id), range));
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

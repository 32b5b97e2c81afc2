import { Controller, Get, Inject, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ErrorCode } from '@app/contracts';
import { ApiError } from '../http/api-error.js';
import { parseJobId } from '../http/route-params.js';
import { Public } from '../auth/route-access.decorator.js';
import { DASHBOARD_DIR } from './dashboard.static.js';

/**
 * The dashboard's pages: `/`, `/jobs/{id}` and `/webhooks` are the same single-page app, whose
 * index.html is never cached (it names the current hashed assets); the assets themselves are served
 * by the static middleware with a one-year immutable cache. Public: the page holds no data; its API calls
 * send the operator's key.
 */
@Controller()
@Public()
export class DashboardController {
  constructor(@Inject(DASHBOARD_DIR) private readonly dir: string | null) {}

  @Get()
  index(@Res() res: Response): void {
    this.sendIndex(res);
  }

  @Get('jobs/:id')
  job(@Param('id') id: string, @Res() res: Response): void {
    parseJobId(id);
    this.sendIndex(res);
  }

  @Get('webhooks')
  webhooks(@Res() res: Response): void {
    this.sendIndex(res);
  }

  private sendIndex(res: Response): void {
    if (!this.dir) throw new ApiError(ErrorCode.ServiceUnavailable, 'the dashboard is not built: run "npm run build"');
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile('index.html', { root: this.dir, dotfiles: 'deny' });
  }
}

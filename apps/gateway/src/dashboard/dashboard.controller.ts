import { Controller, Get, Inject, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ErrorCode } from '@app/contracts';
import { ApiError } from '../http/api-error.js';
import { parseJobId } from '../http/query.js';
import { DASHBOARD_DIR } from './dashboard.static.js';

/**
 * The dashboard's pages: `/` and `/jobs/{id}` are the same single-page app, whose index.html is
 * never cached (it names the current hashed assets); the assets themselves are served by the
 * static middleware with a one-year immutable cache.
 */
@Controller()
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

  private sendIndex(res: Response): void {
    if (!this.dir) throw new ApiError(ErrorCode.ServiceUnavailable, 'the dashboard is not built: run "npm run build"');
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile('index.html', { root: this.dir, dotfiles: 'deny' });
  }
}

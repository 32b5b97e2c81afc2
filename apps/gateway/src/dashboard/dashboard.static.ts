import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';

export const DASHBOARD_DIR = Symbol('DASHBOARD_DIR');

/** Hashed file names under assets/ never change content: cache them for a year. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Serves the dashboard's built files (GET and HEAD only; anything else falls through to the API).
 * Vite names every asset by its content hash, so assets/ is cached forever; other files (the icon)
 * revalidate. index.html itself is sent by DashboardController.
 */
@Injectable()
export class DashboardStaticMiddleware implements NestMiddleware {
  private readonly serve: RequestHandler | null;

  constructor(@Inject(DASHBOARD_DIR) dir: string | null) {
    this.serve = dir
      ? express.static(dir, {
          index: false,
          redirect: false,
          dotfiles: 'ignore',
          fallthrough: true,
          setHeaders: (res, path) => {
            res.setHeader('Cache-Control', /[\\/]assets[\\/]/.test(path) ? IMMUTABLE : 'no-cache');
            res.locals['route'] = 'static';
          },
        })
      : null;
  }

  use(req: Request, res: Response, next: NextFunction): void {
    if (!this.serve || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    // Nest mounts middleware on a path pattern, which Express strips from req.url: look up the full path.
    const mounted = req.url;
    req.url = req.originalUrl;
    if (new URL(req.url, 'http://x').pathname === '/index.html') {
      req.url = mounted;
      return next();
    }
    this.serve(req, res, (error?: unknown) => {
      req.url = mounted;
      next(error);
    });
  }
}

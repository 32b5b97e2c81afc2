import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** `/v1/jobs/{id}/media/{token}/{name}`: the files a media link in the path opens (see MediaLinkInPath). */
export const MEDIA_PATH_ROUTE = 'v1/jobs/:id/media/:token/:name';
const MEDIA_PATH = /^\/v1\/jobs\/[^/]+\/media\/[^/]+\/[^/]+$/;

/** Whether a request path is one of MEDIA_PATH_ROUTE's (the CORS_ORIGINS policy leaves those to MediaCorsMiddleware). */
export function isMediaPath(path: string): boolean {
  return MEDIA_PATH.test(path);
}

/** What a player may send (Range, and the revalidation headers) and read (the range it got, the ETag). */
const ALLOWED_HEADERS = 'Range, If-None-Match, If-Range';
const EXPOSED_HEADERS = 'Accept-Ranges, Content-Length, Content-Range, ETag';

/**
 * CORS for the files a media link in the path opens: any origin may read them
 * (`Access-Control-Allow-Origin: *`, no credentials), because the token in the URL is the whole
 * authorization: a page that has the URL could as well fetch it from its server. So a player on
 * another site plays a job's HLS output. Set before the auth guard runs, so a 401 or 404 is readable
 * too; a preflight (OPTIONS, for a Range a browser does not send simply) is answered here, 204, with
 * nothing looked up. Cross-Origin-Resource-Policy is opened for the same reason (an <img> of a
 * storyboard sprite on another site; helmet's default is same-origin).
 */
@Injectable()
export class MediaCorsMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    if (req.method !== 'OPTIONS') return next();
    res.setHeader('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
    res.setHeader('Access-Control-Max-Age', '600');
    res.setHeader('Vary', 'Access-Control-Request-Headers');
    res.status(204).end();
  }
}

import { SetMetadata } from '@nestjs/common';

export const ROUTE_ACCESS = 'framewire:route-access';
export type RouteAccess = 'public' | 'admin' | 'media-link';

export const ACCEPTS_MEDIA_LINK = 'framewire:accepts-media-link';

/**
 * Marks a route (or a whole controller) that answers without an API key: the dashboard's static
 * files, health probes, the API docs. Every other route needs a key; that is the default, so a new
 * route is protected unless someone decides otherwise here, in plain sight.
 */
export const Public = () => SetMetadata(ROUTE_ACCESS, 'public' satisfies RouteAccess);

/** Marks a route that only admin keys may use (others get 403 FORBIDDEN). */
export const AdminOnly = () => SetMetadata(ROUTE_ACCESS, 'admin' satisfies RouteAccess);

/**
 * Marks a route of one job's media (`/v1/jobs/:id/...`) that also accepts a signed media link
 * (`?token=`, see MediaLinks) in place of the Authorization header, for a <video> element or a
 * download link. The link acts for the key that asked for it, for that job only.
 */
export const AcceptsMediaLink = () => SetMetadata(ACCEPTS_MEDIA_LINK, true);

/**
 * Marks a route of one job's media (`/v1/jobs/:id/media/:token/...`) that opens with the signed
 * media link in its path, and only with it: no API key, no `?token=`. A player resolves a playlist's
 * relative URIs against the playlist's URL, which keeps the path and drops the query string, and it
 * cannot send a header; a token in the path travels to every file the playlist names.
 */
export const MediaLinkInPath = () => SetMetadata(ROUTE_ACCESS, 'media-link' satisfies RouteAccess);

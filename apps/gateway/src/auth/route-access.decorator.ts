import { SetMetadata } from '@nestjs/common';

export const ROUTE_ACCESS = 'framewire:route-access';
export type RouteAccess = 'public' | 'admin';

/**
 * Marks a route (or a whole controller) that answers without an API key: the dashboard's static
 * files, health probes, the API docs. Every other route needs a key; that is the default, so a new
 * route is protected unless someone decides otherwise here, in plain sight.
 */
export const Public = () => SetMetadata(ROUTE_ACCESS, 'public' satisfies RouteAccess);

/** Marks a route that only admin keys may use (others get 403 FORBIDDEN). */
export const AdminOnly = () => SetMetadata(ROUTE_ACCESS, 'admin' satisfies RouteAccess);

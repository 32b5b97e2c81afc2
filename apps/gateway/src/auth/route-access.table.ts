import type { Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { RequestMethod } from '@nestjs/common';
import { ACCEPTS_MEDIA_LINK, ROUTE_ACCESS, type RouteAccess } from './route-access.decorator.js';

/** Who may call one route, as the auth guard decides it from the route's decorators. */
export interface RouteAccessEntry {
  method: string;
  /** OpenAPI form: `/v1/jobs/{id}`. */
  path: string;
  access: RouteAccess | 'key';
  /** Also opens with the job's signed media link (`?token=`). */
  mediaLink: boolean;
}

export const ROUTE_ACCESS_TABLE = Symbol('ROUTE_ACCESS_TABLE');

/**
 * Every route of `controllers` with its access, read from the same metadata the AuthGuard reads
 * (@Public, @AdminOnly, @AcceptsMediaLink on the handler, else on its controller). The OpenAPI
 * document states its security from this, so the two cannot disagree.
 */
export function routeAccessOf(controllers: Type[]): RouteAccessEntry[] {
  const entries: RouteAccessEntry[] = [];
  for (const controller of controllers) {
    const base = pathsOf(Reflect.getMetadata(PATH_METADATA, controller));
    for (const name of Object.getOwnPropertyNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      const own = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (method === undefined || own === undefined) continue;
      const access = (Reflect.getMetadata(ROUTE_ACCESS, handler) ?? Reflect.getMetadata(ROUTE_ACCESS, controller) ?? 'key') as RouteAccessEntry['access'];
      const mediaLink = Boolean(Reflect.getMetadata(ACCEPTS_MEDIA_LINK, handler) ?? Reflect.getMetadata(ACCEPTS_MEDIA_LINK, controller));
      for (const prefix of base) {
        for (const path of pathsOf(own)) {
          entries.push({ method: RequestMethod[method].toLowerCase(), path: openApiPath(prefix, path), access, mediaLink });
        }
      }
    }
  }
  return entries;
}

function pathsOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [''];
  return Array.isArray(value) ? value : [value];
}

function openApiPath(prefix: string, path: string): string {
  const joined = `/${[prefix, path].map((p) => p.replace(/^\/+|\/+$/g, '')).filter((p) => p !== '').join('/')}`;
  return joined.replace(/:(\w+)/g, '{$1}');
}

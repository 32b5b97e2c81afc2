import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Controller, Get, Header, Inject, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ErrorCode } from '@app/contracts';
import { ApiError } from '../http/api-error.js';
import { Public } from '../auth/route-access.decorator.js';
import { ROUTE_ACCESS_TABLE, type RouteAccessEntry } from '../auth/route-access.table.js';
import { API_VERSION, buildOpenApiDocument } from './openapi.document.js';

const require = createRequire(import.meta.url);
const SWAGGER_UI_DIR = dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS = new Set(['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png']);

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Framewire API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

// A file, not an inline script, so the Content-Security-Policy can forbid inline scripts.
const INIT = `window.ui = SwaggerUIBundle({ url: '/docs/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;

/** `/docs`: Swagger UI (served from swagger-ui-dist, nothing from a CDN) over the OpenAPI document. Public: it holds no data. */
@Controller('docs')
@Public()
export class DocsController {
  private document: unknown = null;

  constructor(@Inject(ROUTE_ACCESS_TABLE) private readonly access: RouteAccessEntry[]) {}

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  page(): string {
    return PAGE;
  }

  @Get('openapi.json')
  @Header('Cache-Control', 'no-cache')
  openapi(): unknown {
    this.document ??= buildOpenApiDocument(API_VERSION, this.access);
    return this.document;
  }

  @Get('init.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  init(): string {
    return INIT;
  }

  @Get('assets/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    if (!ASSETS.has(file)) throw new ApiError(ErrorCode.RouteNotFound, `no file ${file}`);
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.sendFile(file, { root: SWAGGER_UI_DIR });
  }
}

import { type DynamicModule, Module } from '@nestjs/common';
import { buildCatalog, ToolCatalog } from './catalog.js';

/**
 * Provides the installation's ToolCatalog (built-in tools plus the plugins named in
 * FRAMEWIRE_PLUGINS). The gateway and the worker import it with the same list, so they agree on
 * every pipeline and its params. A plugin that cannot be loaded stops the service at startup.
 */
@Module({})
export class ToolCatalogModule {
  static forRoot(pluginSpecifiers: readonly string[]): DynamicModule {
    return {
      module: ToolCatalogModule,
      global: true,
      providers: [{ provide: ToolCatalog, useFactory: () => buildCatalog(pluginSpecifiers) }],
      exports: [ToolCatalog],
    };
  }
}

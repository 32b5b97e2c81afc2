import { z } from 'zod';
import type { PipelineInfo, ToolInfo } from '@app/contracts';
import { builtinPlugin } from './builtin/builtin.plugin.js';
import { mediaLimitsProblem, type MediaLimits } from './media/media-limits.js';
import type { FramewirePlugin, PipelineDefinition, Tool } from './tool.js';

const NAME = /^[a-z][a-z0-9-]{0,63}$/;

export interface PipelineEntry {
  name: string;
  description: string;
  tools: Tool[];
  /** The merged params of the pipeline's tools; unknown keys are rejected. */
  params: z.ZodObject;
  /** Where it came from: `builtin` or a plugin's package name. */
  source: string;
  /** False when no tool reads the video: the worker then neither downloads nor probes it. */
  readsInput: boolean;
  /** Its own attempt limit, or null for the workers' default (WORKER_MAX_DELIVER). */
  maxAttempts: number | null;
  /** Its own media limits, each applied only where it is tighter than the workers' (empty: none). */
  mediaLimits: Partial<MediaLimits>;
}

/** Thrown while building a catalog: a bad plugin or a clash of names stops the service at startup. */
export class CatalogError extends Error {}

/**
 * Every tool and pipeline this installation knows: the built-in ones plus those of the configured
 * plugins. The gateway uses it to validate params at submit time and to list pipelines; the worker
 * uses it to run them. Both build it from the same config, so they agree.
 */
export class ToolCatalog {
  private readonly tools = new Map<string, Tool>();
  private readonly toolSources = new Map<string, string>();
  private readonly pipelines = new Map<string, PipelineEntry>();

  constructor(sources: Array<{ source: string; tools: readonly Tool[]; pipelines: readonly PipelineDefinition[] }>) {
    for (const { source, tools } of sources) {
      for (const tool of tools) {
        if (!NAME.test(tool.name)) throw new CatalogError(`${source}: tool name "${tool.name}" must match ${NAME}`);
        if (this.tools.has(tool.name)) throw new CatalogError(`${source}: a tool named "${tool.name}" is already loaded`);
        this.tools.set(tool.name, tool);
        this.toolSources.set(tool.name, source);
      }
    }
    for (const { source, pipelines } of sources) {
      for (const definition of pipelines) this.addPipeline(source, definition);
    }
  }

  private addPipeline(source: string, definition: PipelineDefinition): void {
    if (!NAME.test(definition.name)) throw new CatalogError(`${source}: pipeline name "${definition.name}" must match ${NAME}`);
    if (this.pipelines.has(definition.name)) throw new CatalogError(`${source}: a pipeline named "${definition.name}" is already loaded`);
    if (definition.tools.length === 0) throw new CatalogError(`${source}: pipeline "${definition.name}" has no tools`);
    if (definition.maxAttempts !== undefined && !(Number.isInteger(definition.maxAttempts) && definition.maxAttempts >= 1 && definition.maxAttempts <= 1000)) {
      throw new CatalogError(`${source}: pipeline "${definition.name}" has maxAttempts ${definition.maxAttempts}; use an integer from 1 to 1000`);
    }
    const limitsProblem = mediaLimitsProblem(definition.mediaLimits);
    if (limitsProblem) throw new CatalogError(`${source}: pipeline "${definition.name}": ${limitsProblem}`);
    const tools = definition.tools.map((name) => {
      const tool = this.tools.get(name);
      if (!tool) throw new CatalogError(`${source}: pipeline "${definition.name}" uses unknown tool "${name}"`);
      return tool;
    });
    const shape: Record<string, z.ZodType> = {};
    // A tool's checks across its params (two names for one thing, say) hold in its pipelines too.
    const checks = tools.flatMap((tool) => (tool.params._zod.def.checks ?? []) as Array<z.core.$ZodCheck<Record<string, unknown>>>);
    for (const tool of tools) {
      for (const [key, schema] of Object.entries(tool.params.shape as Record<string, z.ZodType>)) {
        // Tools that share a param (frame_stride, say) share its meaning; the first declaration wins.
        shape[key] ??= schema;
      }
    }
    this.pipelines.set(definition.name, {
      name: definition.name,
      description: definition.description,
      tools,
      params: z.strictObject(shape).check(...checks),
      source,
      readsInput: tools.some((tool) => tool.readsInput !== false),
      maxAttempts: definition.maxAttempts ?? null,
      mediaLimits: { ...definition.mediaLimits },
    });
  }

  pipeline(name: string): PipelineEntry | undefined {
    return this.pipelines.get(name);
  }

  pipelineNames(): string[] {
    return [...this.pipelines.keys()];
  }

  list(): PipelineEntry[] {
    return [...this.pipelines.values()];
  }

  tool(name: string): Tool | undefined {
    return this.tools.get(name);
  }

  listTools(): Array<{ tool: Tool; source: string }> {
    return [...this.tools.values()].map((tool) => ({ tool, source: this.toolSources.get(tool.name)! }));
  }
}

/** A tool as `GET /v1/pipelines` shows it. */
export function describeTool(tool: Tool, source: string): ToolInfo {
  return {
    name: tool.name,
    version: tool.version,
    description: tool.description,
    source,
    reads_input: tool.readsInput !== false,
    params_schema: z.toJSONSchema(tool.params, { io: 'input', unrepresentable: 'any' }),
  };
}

/** A pipeline as `GET /v1/pipelines` shows it. */
export function describePipeline(entry: PipelineEntry): PipelineInfo {
  return {
    name: entry.name,
    description: entry.description,
    source: entry.source,
    tools: entry.tools.map((tool) => ({ name: tool.name, version: tool.version, description: tool.description })),
    max_attempts: entry.maxAttempts,
    media_limits: {
      ...(entry.mediaLimits.maxDurationSec !== undefined && { max_duration_sec: entry.mediaLimits.maxDurationSec }),
      ...(entry.mediaLimits.maxPixels !== undefined && { max_pixels: entry.mediaLimits.maxPixels }),
      ...(entry.mediaLimits.maxFps !== undefined && { max_fps: entry.mediaLimits.maxFps }),
      ...(entry.mediaLimits.maxFrames !== undefined && { max_frames: entry.mediaLimits.maxFrames }),
      ...(entry.mediaLimits.maxStreams !== undefined && { max_streams: entry.mediaLimits.maxStreams }),
    },
    params_schema: z.toJSONSchema(entry.params, { io: 'input', unrepresentable: 'any' }),
  };
}

/**
 * The catalog of an installation: the built-in tools and pipelines plus those of the plugins named in
 * FRAMEWIRE_PLUGINS. The gateway and the worker both build it this way, from the same config.
 */
export async function buildCatalog(pluginSpecifiers: readonly string[], importer?: (specifier: string) => Promise<unknown>): Promise<ToolCatalog> {
  const plugins = await loadPlugins(pluginSpecifiers, importer);
  return new ToolCatalog([builtinPlugin, ...plugins].map((plugin) => ({ source: plugin.name, tools: plugin.tools, pipelines: plugin.pipelines })));
}

/**
 * Loads plugins by module name (an npm package, or a path), as listed in FRAMEWIRE_PLUGINS. Each
 * must default-export a FramewirePlugin. A plugin that cannot be loaded stops the service.
 */
export async function loadPlugins(specifiers: readonly string[], importer: (specifier: string) => Promise<unknown> = (s) => import(s)): Promise<FramewirePlugin[]> {
  const plugins: FramewirePlugin[] = [];
  for (const specifier of specifiers) {
    let loaded: unknown;
    try {
      loaded = await importer(specifier);
    } catch (error) {
      throw new CatalogError(`cannot load plugin "${specifier}": ${error instanceof Error ? error.message : String(error)}`);
    }
    const plugin = (loaded as { default?: unknown }).default ?? loaded;
    if (!isPlugin(plugin)) throw new CatalogError(`"${specifier}" is not a Framewire plugin (its default export needs name, version, tools and pipelines)`);
    plugins.push(plugin);
  }
  return plugins;
}

function isPlugin(value: unknown): value is FramewirePlugin {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Record<string, unknown>;
  return typeof p['name'] === 'string' && typeof p['version'] === 'string' && Array.isArray(p['tools']) && Array.isArray(p['pipelines']);
}

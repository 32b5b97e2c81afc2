export * from './tool.js';
export * from './catalog.js';
export * from './result.js';
export * from './media/probe-result.js';
export * from './media/ffmpeg-progress.js';
export * from './builtin/builtin.plugin.js';
export * from './builtin/sampling.js';
export { spriteGrid, thumbnailsCommand, thumbnailsParams } from './builtin/thumbnails.tool.js';
export * from './tool-catalog.module.js';

export * from './tool.js';
export * from './catalog.js';

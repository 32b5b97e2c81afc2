export * from './job.entity.js';
export * from './data-source.js';
export * from './open-read-model.js';
export * from './job-row.mapper.js';
export * from './job-read.repository.js';
export * from './projection.writer.js';
export * from './model-schema.js';
export * from './projection-registry.js';

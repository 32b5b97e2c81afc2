export * from './job.entity.js';
export * from './data-source.js';
export * from './job-row.mapper.js';
export * from './job-read.repository.js';
export * from './projection.writer.js';
export * from './read-model.health.js';

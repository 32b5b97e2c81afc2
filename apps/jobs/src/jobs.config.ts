export const JOBS_CONFIG = Symbol('JOBS_CONFIG');

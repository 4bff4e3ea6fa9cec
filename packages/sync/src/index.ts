export * from './ingest.js'
export * from './service.js'

export * from './ingest.js'
export * from './service.js'
export * from './messages.js'
export * from './tally-messages.js'

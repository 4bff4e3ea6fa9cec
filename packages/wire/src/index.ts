export * from './protocols.js'
export * from './streams.js'
export * from './client.js'

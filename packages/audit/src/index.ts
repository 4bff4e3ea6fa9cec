export * from './findings.js'
export * from './peer.js'
export * from './audit.js'
export * from './source.js'

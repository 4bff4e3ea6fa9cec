export * from './schemas.js'
export * from './routes.js'
export * from './json.js'
export * from './governance.js'

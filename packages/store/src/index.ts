export * from './store.js'
export * from './keys.js'
export * from './repository.js'
export * from './disk.js'

// Server-Sent Events from a hub's /events stream, split into (event, data) pairs.

/** Feeds text chunks; calls onEvent(event, data, arrivalMs) for every complete event with data. */
export function sseParser (onEvent) {
  let buf = ''
  return (chunk) => {
    const at = Date.now()
    buf += chunk
    let k
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, k)
      buf = buf.slice(k + 2)
      let event = 'message'
      let data = ''
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7)
        else if (line.startsWith('data: ')) data += line.slice(6)
      }
      if (data !== '') onEvent(event, data, at)
    }
  }
}

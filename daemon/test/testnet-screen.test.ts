import assert from 'node:assert/strict'
import { fixture, GENESIS } from '@ecandle/protocol/testing'
import { epochLine, Screen } from '../src/commands/testnet.js'

/** A terminal or a pipe: records what is written. */
function stream (isTTY: boolean, columns = 80): NodeJS.WriteStream & { out: string[] } {
  const out: string[] = []
  return { isTTY, columns, out, write: (s: string) => { out.push(s); return true } } as any
}

describe('testnet live summary', () => {
  it('redraws in place on a terminal: the next drawing moves up over every row of the last, wrapped rows included', () => {
    const tty = stream(true, 10)
    const screen = new Screen(tty)
    screen.draw('a\nbbbbbbbbbbbbbbbbbbbbbbbbb') // 1 row + 3 rows wrapped at 10 columns, + the Ctrl-C row (3 rows)
    assert.ok(!tty.out[0].includes('\x1b[2J'), 'never clears the whole screen (that scrolls it)')
    screen.draw('c')
    assert.ok(tty.out[1].startsWith('\x1b[7A\r'), `moves up 7 rows first: ${JSON.stringify(tty.out[1])}`)
    assert.ok(tty.out[1].endsWith('\x1b[J'), 'clears what is left below')
  })

  it('prints plain lines, at most every 5 s, when stdout is not a terminal', () => {
    const pipe = stream(false)
    const screen = new Screen(pipe)
    screen.draw('one')
    screen.draw('two')
    assert.deepEqual(pipe.out, ['one\n'])
  })

  it('says when the first epoch will be decided, and why not yet', () => {
    const { net } = fixture() // epochs of 60 s, 5 s grace
    assert.match(epochLine(net, -1, (GENESIS + 20) * 1000), /epoch 0 is running .*first decision .*5 s grace.*votes start in 45 s/)
    assert.match(epochLine(net, -1, (GENESIS + 70) * 1000), /voting on epoch 0/)
    assert.match(epochLine(net, 0, (GENESIS + 100) * 1000), /epoch 1 is running.*decision on epoch 1.*votes start in 25 s/)
    assert.match(epochLine(net, 0, (GENESIS + 250) * 1000), /voting on epoch 1 \(catching up on 2 more\)/)
  })
})

import type { DecodedReport } from '@ecandle/protocol'
import type { BridgeHost, SubmitResult } from '@ecandle/hardware-bridge'

/** A BridgeHost that stores in memory, with a clock the test moves and an answer the test picks. */
export class FakeHost implements BridgeHost {
  t: number
  readonly submitted: Uint8Array[] = []
  answer: (bytes: Uint8Array) => SubmitResult | Promise<SubmitResult> = () => ({ status: 'stored' })
  constructor (startMs: number) { this.t = startMs }
  now = (): number => this.t
  submit = async (d: DecodedReport): Promise<SubmitResult> => {
    this.submitted.push(d.bytes)
    return await this.answer(d.bytes)
  }
}

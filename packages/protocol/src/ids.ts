import { base58btc } from 'multiformats/bases/base58'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { ProtocolError } from './errors.js'
import { sha256 } from './crypto.js'

/** DAG-CBOR multicodec; content ids are CIDv1(dag-cbor, sha2-256) of an object's signed bytes. */
const DAG_CBOR = 0x71
const SHA2_256 = 0x12

export function contentId (bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR, Digest.create(SHA2_256, sha256(bytes)))
}

export function parseCid (s: string, what = 'cid'): CID {
  try {
    return CID.parse(s)
  } catch {
    throw new ProtocolError('cid', `${what}: not a CID: ${s.slice(0, 80)}`)
  }
}

/**
 * libp2p Ed25519 peer ids are the identity multihash of the protobuf public key:
 * 0x00 0x24 | 0x08 0x01 0x12 0x20 | 32 key bytes, written in base58btc ("12D3KooW…").
 * Decoding them here keeps the protocol package free of libp2p.
 */
const PEER_ID_PREFIX = Uint8Array.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20])

export function peerIdFromPublicKey (publicKey: Uint8Array): string {
  if (publicKey.byteLength !== 32) throw new ProtocolError('key', 'Ed25519 public key must be 32 bytes')
  const mh = new Uint8Array(38)
  mh.set(PEER_ID_PREFIX)
  mh.set(publicKey, 6)
  return base58btc.encode(mh).slice(1)
}

export function publicKeyFromPeerId (peerId: string): Uint8Array {
  let mh: Uint8Array
  try {
    mh = base58btc.decode('z' + peerId)
  } catch {
    throw new ProtocolError('peer-id', `not a base58btc peer id: ${peerId.slice(0, 80)}`)
  }
  if (mh.byteLength !== 38 || !PEER_ID_PREFIX.every((b, i) => mh[i] === b)) {
    throw new ProtocolError('peer-id', `not an Ed25519 peer id: ${peerId.slice(0, 80)}`)
  }
  return mh.slice(6)
}

// A tiny PNG encoder, so the tests upload a real picture without fixtures.
import { deflateSync } from 'node:zlib'

const CRC = new Int32Array(256).map((_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c
})
function crc32(buf) {
  let c = -1
  for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ -1) >>> 0
}
function chunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(td))
  return Buffer.concat([len, td, crc])
}

// encodePNG(w, h, pixel(x, y) → [r, g, b]) → Buffer
export function encodePNG(w, h, pixel) {
  const raw = Buffer.alloc((w * 3 + 1) * h)
  let i = 0
  for (let y = 0; y < h; y++) {
    raw[i++] = 0
    for (let x = 0; x < w; x++) {
      const [r, g, b] = pixel(x, y)
      raw[i++] = r
      raw[i++] = g
      raw[i++] = b
    }
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 2 // RGB
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))])
}

// laughingFace draws a laughing face on a striped background; hue varies
// the colours so every upload is a different picture (no repost reports).
export function laughingFace(w = 640, h = 480, hue = 0) {
  const cx = w / 2
  const cy = h / 2
  const R = Math.min(w, h) * 0.36
  const tint = (r, g, b) => {
    const a = (hue % 360) / 360
    return [Math.round(r * (1 - a) + b * a), g, Math.round(b * (1 - a) + r * a)]
  }
  return encodePNG(w, h, (x, y) => {
    const dx = x - cx
    const dy = y - cy
    const d = Math.hypot(dx, dy)
    if (d < R) {
      // eyes: squeezed arcs
      for (const ex of [-0.38, 0.38]) {
        const ux = dx - ex * R
        const uy = dy + 0.22 * R
        const ring = Math.hypot(ux, uy * 1.6)
        if (uy < 0 && ring > 0.13 * R && ring < 0.2 * R) return [60, 40, 20]
        // tears
        const tx = dx - ex * 1.25 * R
        const ty = dy + 0.02 * R
        if (Math.hypot(tx, ty * 0.7) < 0.09 * R) return [80, 170, 255]
      }
      // mouth: a wide open half-disc
      if (dy > 0.05 * R && Math.hypot(dx, (dy - 0.05 * R) * 1.25) < 0.55 * R) {
        if (dy > 0.42 * R) return [230, 90, 110] // tongue
        return [90, 20, 30]
      }
      if (d > R - 5) return [200, 140, 0]
      return [255, 205, 40]
    }
    const stripe = Math.floor((x + y) / 32) % 2
    return stripe ? tint(255, 120, 160) : tint(120, 200, 255)
  })
}

// Removes the previous build from dist/, keeping README.txt (tracked in git
// so that go:embed has a file to embed on a fresh clone).
import { readdirSync, rmSync, existsSync, mkdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist')
if (!existsSync(dist)) mkdirSync(dist)
for (const name of readdirSync(dist)) {
  if (name === 'README.txt') continue
  rmSync(join(dist, name), { recursive: true, force: true })
}

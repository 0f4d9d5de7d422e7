// After the build: dist/README.txt must still be there (go:embed on a fresh
// clone relies on it) and index.html must exist.
import { existsSync, writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist')
const readme = join(dist, 'README.txt')
if (!existsSync(readme)) {
  writeFileSync(readme, 'The built web app goes here (make web). This file keeps the folder in git so go:embed works on a fresh clone.\n')
  console.warn('dist/README.txt was missing; restored')
}
if (!existsSync(join(dist, 'index.html'))) {
  console.error('dist/index.html is missing: the build failed')
  process.exit(1)
}

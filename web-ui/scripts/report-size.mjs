// What a first visit downloads, raw and gzip-compressed (level 9, as the .gz twins Django serves):
//  - "initial": index.html and everything it loads before any route renders (entry, its static
//    imports = modulepreloads, CSS);
//  - "login page": that plus the login route's chunk, its imports and the English messages chunk,
//    i.e. everything the browser fetches to show the login page to an English-speaking visitor.
// Read from Vite's manifest (dist/.vite/manifest.json). Run after `vite build` (npm run build does).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

const dist = new URL('../dist/', import.meta.url).pathname
const manifest = JSON.parse(readFileSync(join(dist, '.vite', 'manifest.json'), 'utf8'))

function closure(keys) {
  const files = new Set()
  const seen = new Set()
  const visit = (key) => {
    if (seen.has(key) || !manifest[key]) return
    seen.add(key)
    const chunk = manifest[key]
    files.add(chunk.file)
    for (const css of chunk.css ?? []) files.add(css)
    for (const imported of chunk.imports ?? []) visit(imported)
  }
  keys.forEach(visit)
  return files
}

const size = (file) => {
  const data = readFileSync(join(dist, file))
  return { raw: data.length, gzip: gzipSync(data, { level: 9 }).length }
}
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`

function report(title, files, withIndex = true) {
  let raw = 0
  let gzip = 0
  console.log(`\n${title}:`)
  for (const file of [...(withIndex ? ['index.html'] : []), ...[...files].sort()]) {
    const s = size(file)
    raw += s.raw
    gzip += s.gzip
    console.log(`  ${file.padEnd(48)} ${kb(s.raw).padStart(10)}  gzip ${kb(s.gzip).padStart(9)}`)
  }
  console.log(`  ${'TOTAL'.padEnd(48)} ${kb(raw).padStart(10)}  gzip ${kb(gzip).padStart(9)}`)
  return { files, raw, gzip }
}

const entries = Object.keys(manifest).filter((key) => manifest[key].isEntry)
const initial = report('Initial download (index.html, entry, preloads, CSS)', closure(entries))
const login = closure([...entries, 'src/views/login/LoginView.vue', 'src/i18n/locales/en.ts'])
const extra = report('The login page adds (route chunk, its components, English messages)',
  new Set([...login].filter((f) => !initial.files.has(f))), false)
console.log(`\nFirst visit to the login page: ${kb(initial.raw + extra.raw)}, gzip ${kb(initial.gzip + extra.gzip)}`)
const all = closure(Object.keys(manifest))
const rest = [...all].filter((f) => !login.has(f))
console.log(`\nEverything else loads on demand: ${rest.length} files, gzip ${kb(rest.reduce((n, f) => n + size(f).gzip, 0))}\n`)

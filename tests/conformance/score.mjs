// Scores cache-tests (http-cache-tests on npm, https://cache-tests.fyi)
// result files the way the site does: a test without a kind, or of kind
// "required", passes only when its result is `true`; a test whose
// dependencies did not pass counts as not passed. Browser-only tests are
// left out. Usage (from the http-cache-tests package directory):
//   node score.mjs results/varnish.json ours.json ...     # table
//   node score.mjs --failures ours.json                   # our failing required tests
import fs from 'fs'
import path from 'path'
import tests from './tests/index.mjs'
import surrogate from './tests/surrogate-control.mjs'

if (!tests.includes(surrogate)) tests.push(surrogate)

const all = new Map()
for (const suite of tests) for (const t of suite.tests) all.set(t.id, { ...t, suite: suite.id })
const required = [...all.values()].filter(t => (t.kind === undefined || t.kind === 'required') && t.browser_only !== true)

function passed (results, id, seen = new Set()) {
  if (seen.has(id)) return false
  seen.add(id)
  const t = all.get(id)
  if (!t) return false
  // as the site does: a dependency counts when it passed (or, for a check, said yes)
  for (const dep of t.depends_on || []) {
    if (!passed(results, dep, new Set(seen))) return false
  }
  return results[id] === true
}

const args = process.argv.slice(2)
const failures = args[0] === '--failures'
const files = failures ? args.slice(1) : args
for (const f of files) {
  const results = JSON.parse(fs.readFileSync(f, 'utf8'))
  const ok = required.filter(t => passed(results, t.id))
  if (failures) {
    for (const t of required) {
      if (!passed(results, t.id)) {
        const r = results[t.id]
        console.log(`${t.suite}\t${t.id}\t${JSON.stringify(r === undefined ? 'untested' : r).slice(0, 200)}`)
      }
    }
  }
  const optimal = [...all.values()].filter(t => t.kind === 'optimal' && t.browser_only !== true)
  const optOk = optimal.filter(t => passed(results, t.id))
  console.log(`${path.basename(f, '.json').padEnd(16)} required ${String(ok.length).padStart(3)}/${required.length} (${(100 * ok.length / required.length).toFixed(1)}%)  optimal ${optOk.length}/${optimal.length}`)
}

// Uppy Companion's standalone server (what its bin runs), listening on loopback only: the bin
// binds every interface. Benchmark use only (bench/competitors.py). Usage: node companion.mjs <dir>
// where <dir> holds the installed @uppy/companion; settings come from COMPANION_* variables.
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const lib = path.join(process.argv[2], 'node_modules', '@uppy', 'companion', 'lib')
const load = (file) => import(pathToFileURL(path.join(lib, file)).href)
const companion = await load('companion.js')
const { default: standalone } = await load('standalone/index.js')
const { app } = standalone()
const server = app.listen(Number(process.env.COMPANION_PORT), '127.0.0.1')
companion.socket(server)
server.on('listening', () => console.log(`companion listening on ${process.env.COMPANION_PORT}`))

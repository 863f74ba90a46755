#!/usr/bin/env node
// The `weft` command, run from the compiled output (no TypeScript loader at run time).
import '../dist/main.js';

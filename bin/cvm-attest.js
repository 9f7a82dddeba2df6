#!/usr/bin/env node
// Runs the bundled CLI (one file, built by `npm run build`) for a lean start-up.
import '../dist/bundle/cli.mjs';

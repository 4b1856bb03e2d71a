import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Folder of the frontend package (relative paths are resolved from it). */
export const FRONTEND_DIR = path.resolve(here, '..');
/** Root of the repository (scripts/stack lives there). */
export const REPO_DIR = path.resolve(FRONTEND_DIR, '..');
/** The gateway: the one origin a user sees. */
export const BASE_URL = (process.env.E2E_BASE_URL || 'http://localhost:8080').replace(/\/+$/, '');
/** Screenshots, one per test: `<ARTIFACTS_DIR>/<test>.png`. */
export const ARTIFACTS_DIR = path.resolve(FRONTEND_DIR, process.env.E2E_ARTIFACTS || '../artifacts/e2e');

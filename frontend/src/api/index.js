import { createApiClient } from './client.js';

/** The API client of this tab: one token, one refresh flight, one channel. */
export const api = createApiClient();

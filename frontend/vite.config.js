import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// In development the Vite server stands in for the frontend nginx; /api and
// /.well-known are proxied to the gateway. The refresh endpoint requires an
// Origin equal to PUBLIC_URL, so the proxy rewrites Origin to the gateway's.
const gateway = process.env.VITE_GATEWAY_URL || 'http://localhost:8080';

function toGateway() {
  return {
    target: gateway,
    changeOrigin: true,
    configure(proxy) {
      proxy.on('proxyReq', (proxyReq) => {
        if (proxyReq.getHeader('origin')) proxyReq.setHeader('origin', new URL(gateway).origin);
      });
    },
  };
}

export default defineConfig({
  plugins: [react()],
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/api': toGateway(),
      '/.well-known': toGateway(),
    },
  },
  preview: { host: '127.0.0.1', port: 4173 },
  test: {
    include: ['src/**/*.test.{js,jsx}'],
    environment: 'node',
  },
});

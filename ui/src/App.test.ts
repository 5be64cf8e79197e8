import { render, screen, fireEvent } from '@testing-library/svelte'
import { describe, expect, it, vi } from 'vitest'
import App from './App.svelte'
import type { AppInfo, Backend, Outcome } from './lib/backend'
import { fakeBackend as completeFake } from './test/fakeBackend'

function fakeBackend(outcome: Outcome<AppInfo>): Backend {
  return completeFake({ appInfo: async () => outcome })
}

const info: AppInfo = { version: '9.9.9', dataDir: '/tmp/firebreak-test', tenantConfigured: false }

describe('App shell', () => {
  it('tells the shell once that the home screen is up, for start-up timing', async () => {
    const uiReady = vi.fn(async () => ({ status: 'ok' as const, data: null }))
    render(App, { backend: completeFake({ uiReady }) })
    await vi.waitFor(() => expect(uiReady).toHaveBeenCalledTimes(1))
    expect(screen.getByRole('heading', { level: 1, name: 'Cases' })).toBeTruthy()
  })

  it('opens on Cases and shows what the backend says about this installation', async () => {
    render(App, { backend: fakeBackend({ status: 'ok', data: info }) })
    expect(screen.getByRole('heading', { level: 1, name: 'Cases' })).toBeTruthy()
    expect(await screen.findByTestId('app-version')).toHaveProperty('textContent', '9.9.9')
    expect(screen.getByTestId('data-dir').textContent).toBe('/tmp/firebreak-test')
    expect(screen.getByText('Training tenant')).toBeTruthy()
  })

  it('shows the backend error as an alert instead of an empty screen', async () => {
    render(App, {
      backend: fakeBackend({ status: 'error', error: { kind: 'storage', message: 'disk is full' } }),
    })
    const alert = await screen.findByRole('alert')
    expect(alert.textContent).toContain('disk is full')
  })

  it('moves between sections with the navigation and marks the current one', async () => {
    render(App, { backend: fakeBackend({ status: 'ok', data: info }) })
    const readiness = screen.getByRole('button', { name: 'Readiness' })
    await fireEvent.click(readiness)
    expect(screen.getByRole('heading', { level: 1, name: 'Readiness' })).toBeTruthy()
    expect(readiness.getAttribute('aria-current')).toBe('page')
    expect(screen.getByRole('button', { name: 'Cases' }).getAttribute('aria-current')).toBeNull()
  })

  it('renders tenant-controlled text as text, never as markup', async () => {
    const hostile = '<img src=x onerror="window.pwned=1">'
    render(App, { backend: fakeBackend({ status: 'ok', data: { ...info, dataDir: hostile } }) })
    const dir = await screen.findByTestId('data-dir')
    expect(dir.textContent).toBe(hostile)
    expect(dir.querySelector('img')).toBeNull()
  })
})

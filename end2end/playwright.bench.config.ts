import base from './playwright.config';
import { defineConfig } from '@playwright/test';

// The browser benchmarks: same servers and browser as the tests, another folder.
export default defineConfig({ ...base, testDir: './bench', reporter: 'list' });

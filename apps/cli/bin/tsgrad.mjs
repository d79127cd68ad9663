#!/usr/bin/env node
// The `tsgrad` command (a package bin): the sources are TypeScript, run through tsx's loader.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");

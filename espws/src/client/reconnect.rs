//! When to dial again: an exponential backoff with jitter, as a sans-IO policy.

"""What every family uses: the one training loop, the train state and optimizer recipe, seeds
and keys, Orbax checkpoints, logging, sharding and the parameter fingerprint."""

"""ttscale's Hydra launchers: hydra-submitit-launcher's, plus the merge job after a sweep."""

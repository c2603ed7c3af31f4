"""Change stage: the two sides of a change read from Git, the plan between them, and who approved it.

Second stage of the flow: Git reading, the plan, the pull request's context and the GitHub client.
"""
